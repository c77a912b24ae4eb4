machine = "AMD EPYC, 2 vCPU, Linux 6.18.44-fc-v1300"
rate = "9k req/s" 
at_n = 10000
balance_loops = 2
placement = "split"
slo = "p99=5ms"
shapes_at = "N = 10,000, 9,000 req/s"
