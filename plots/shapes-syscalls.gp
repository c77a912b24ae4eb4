# shapes-syscalls.gp - syscalls per request against request size (bench/shapes): a request larger
# than one read takes several reads and writes; a pipelined batch shares one read and one write.
# One line per server and pipeline (the servers' own counts; the kernel's for libuv).
name = "shapes-syscalls"
body = "set title sprintf('Syscalls per request against request size (%s)\n%s', shapes_at, machine); \
  set logscale xy; set xlabel 'request size (bytes)'; set ylabel 'syscalls per request'; \
  plot for [i=0:*] dir.'/shapes-syscalls.dat' index i using 1:2:3:4:5 with yerrorlines lc variable dashtype i % 2 + 1 title columnhead(1)"
eval render
