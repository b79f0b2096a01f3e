"""Built-in knowledge files (TOML, one per drug or regimen); a package so they ship as package data."""
