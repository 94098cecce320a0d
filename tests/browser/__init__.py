"""Browser tests: the JS client and the demo apps in headless chromium."""
