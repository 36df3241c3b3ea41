{ inner = true; here = ./.; }
