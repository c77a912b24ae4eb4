machine = "Intel(R) Xeon(R) Processor, 2 vCPU, Linux 6.18.44-fc-v1147"
rate = "30k req/s" 
at_n = 10000
balance_loops = 2
placement = "split"
slo = "p99=5ms"
shapes_at = "N = 10,000, 30,000 req/s"
