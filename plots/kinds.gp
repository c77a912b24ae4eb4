# kinds.gp - what the syscalls are, per request, at N = at_n connections and the fixed rate.
# The totals above the bars skip the header line: a rowstacked histogram puts data row i at x = i,
# and without the skip the header counts as row 0 and every total stands one bar to the right.
name = "kinds"
body = "set title sprintf('Syscalls per request by kind, N = %d, %s\n%s', at_n, rate, machine); \
  set style data histograms; set style histogram rowstacked; set style fill solid 0.85 border -1; \
  set boxwidth 0.7; set ylabel 'syscalls per request'; set yrange [0:*]; set xtics rotate by -20; \
  plot for [k=2:8] dir.'/kinds.dat' using k:xtic(1) title columnhead(k), \
    '' skip 1 using 0:9:(sprintf('%.2f', $9)) with labels offset 0,0.8 notitle"
eval render
