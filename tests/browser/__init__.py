"""End-to-end tests of the web pages in a real headless Chromium."""
