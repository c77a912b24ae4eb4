# common.gp - what every chart shares: the run's variables (vars.gp, written by
# bench/lib/plotdata.py), one colour and point per server, and both outputs (PNG and SVG).
# Called as: gnuplot -e "dir='RUN/plots'" plots/NAME.gp ; each script defines `body` (the plot
# commands, as a string) and `name`, then calls render.
load dir.'/vars.gp'
set encoding utf8
set grid lc rgb "#dddddd"
set autoscale xfix
set offsets graph 0.03, graph 0.03, 0, 0
set key outside right top box opaque
set border lw 1.2
set pointsize 1.1
# one style per server, in the order bench/lib/results.py lists them
array colors[11] = ["#7f7f7f", "#bcbd22", "#d62728", "#ff7f0e", "#9467bd", "#1f77b4", "#17becf", "#2ca02c", "#e377c2", "#8c564b", "#393b79"]
# (blocking, blocking-iterative, busypoll, select, poll, epoll, epoll-edge, libuv, uring, epoll-t2,
# blocking-a2): the data files carry the index in their last column, used with `lc variable`
do for [i=1:11] { set linetype i lc rgb colors[i] lw 2 pt 7 ps 0.9 }
render = "do for [fmt in 'png svg'] { \
  if (fmt eq 'png') { set terminal pngcairo noenhanced size 1100,650 font 'sans,11' } \
  else { set terminal svg noenhanced size 1100,650 dynamic font 'sans,11' }; \
  set output dir.'/'.name.'.'.fmt; eval body; unset output }"
