// TestSupport: helpers for the integration tests.
import Sluice
