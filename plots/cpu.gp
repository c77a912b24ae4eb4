# cpu.gp - server CPU per request at the same offered rate: the price of each model's loop.
name = "cpu"
body = "set title sprintf('Server CPU per request at %s\n%s', rate, machine); \
  set logscale xy; set xlabel 'connections held open (N)'; set ylabel 'server CPU per request (µs)'; \
  plot for [i=0:*] dir.'/cpu.dat' index i using 1:2:3:4:5 with yerrorlines lc variable title columnhead(1)"
eval render
