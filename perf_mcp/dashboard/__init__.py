"""The dashboard's static files (index.html, dashboard.js, dashboard.css), shipped in the wheel."""
