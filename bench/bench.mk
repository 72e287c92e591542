bench:
	@echo "no benchmark yet"
.PHONY: bench
