"""Administrative divisions (行政区划): region code → name, for reports and the admin page."""
