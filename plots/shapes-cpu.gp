# shapes-cpu.gp - what a request's size and a client's pipelining do to a server's CPU per request
# (bench/shapes: one N, the fixed rate): larger requests move the cost from the loop to copying,
# a pipelined batch lets one read and one write serve several requests. One line per server and
# pipeline; the bars span the repetitions.
name = "shapes-cpu"
body = "set title sprintf('Server CPU per request against request size (%s)\n%s', shapes_at, machine); \
  set logscale xy; set xlabel 'request size (bytes)'; set ylabel 'server CPU per request (µs)'; \
  plot for [i=0:*] dir.'/shapes-cpu.dat' index i using 1:2:3:4:5 with yerrorlines lc variable dashtype i % 2 + 1 title columnhead(1)"
eval render
