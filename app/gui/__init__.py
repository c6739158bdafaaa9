"""The desktop app: every Qt import lives in this package."""
