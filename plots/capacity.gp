# capacity.gp - what each server can serve: the highest fixed rate at which its tail latency stays
# under the bound (bench/capacities: bench/capacity's search, bracketed to 5%), against N. The bar
# spans its interval (bench/lib/capacity.py): from the highest rate that surely passed to the lowest
# that surely failed, where the repetitions' spread left a step's verdict in doubt.
name = "capacity"
body = "set title sprintf('Sustainable requests per second under %s, against N\n%s', slo, machine); \
  set logscale x; set xlabel 'connections held open (N)'; set ylabel 'thousand requests per second'; set yrange [0:*]; \
  plot for [i=0:*] dir.'/capacity.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1)"
eval render
