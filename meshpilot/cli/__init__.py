"""The `meshpilot` command line."""
