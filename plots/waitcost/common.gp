# common.gp - what the waitcost charts share: the run's variables (waitcost-vars.gp, written by
# bench/lib/waitcost_report.py), one colour per mechanism, a dash per K, both outputs (PNG, SVG).
# Not part of `make plots` (which draws the sweep's charts from plots/*.gp): `make waitcost` calls
#   gnuplot -e "dir='RUN'" -e "load 'plots/waitcost/common.gp'" plots/waitcost/NAME.gp
load dir.'/waitcost-vars.gp'
set encoding utf8
set grid lc rgb "#dddddd"
set key outside right top box opaque
set border lw 1.2
set logscale xy
set xlabel 'registered fds (N)'
set format y "%.0s %c"
set xtics ("10" 10, "100" 100, "1,000" 1000, "10,000" 10000, "19,000" 19000)
set xrange [7:27000]
# mechanisms in bench/lib/waitcost_report.py's order: select, poll, epoll, uring, busy - the same
# colours the sweep's charts give the servers of the same name (plots/common.gp)
array mcolor[5] = ["#ff7f0e", "#9467bd", "#1f77b4", "#e377c2", "#d62728"]
# K = the smallest (1) solid, any other K (100) dashed
kdash(k) = k == k_small ? 1 : 2
render = "do for [fmt in 'png svg'] { \
  if (fmt eq 'png') { set terminal pngcairo noenhanced size 1100,650 font 'sans,11' } \
  else { set terminal svg noenhanced size 1100,650 dynamic font 'sans,11' }; \
  set output dir.'/'.name.'.'.fmt; eval body; unset output }"
