machine = "Intel(R) Xeon(R) Processor, 2 vCPU, Linux 6.18.44-fc-v1045"
rate = "20k req/s" 
at_n = 10000
placement = "split"
