// sluice: entry point.
import Sluice

print("sluice")
