machine = "AMD EPYC, 2 vCPU, Linux 6.18.44-fc-v1252"
rate = "8k req/s" 
at_n = 10000
balance_loops = 2
placement = "split"
slo = "p99=5ms"
shapes_at = "N = 10,000, 8,300 req/s"
