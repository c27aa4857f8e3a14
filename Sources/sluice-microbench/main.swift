// sluice-microbench: micro-benchmarks of pure parts (PROXY codec), run by scripts/bench.
import Sluice

print("microbench")
