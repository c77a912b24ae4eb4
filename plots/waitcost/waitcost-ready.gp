# waitcost-ready.gp - time per ready event (ns per call / K) against N (bench/waitcost): what a loop
# pays for each fd it learns is ready. With K = 100 select and poll spread their scan over 100
# events; epoll and io_uring pay per event whatever N is.
name = "waitcost-ready"
body = "set title sprintf('Time per ready fd reported (median ns per call / K)\n%s', machine); \
  set ylabel 'ns per ready event'; \
  plot for [i=1:nblocks] dir.'/waitcost.dat' index (i-1) using 1:5 with linespoints \
    lc rgb mcolor[blk_mech[i]] dt kdash(blk_k[i]) lw 2 pt 7 ps 0.8 title columnhead(1)"
eval render
