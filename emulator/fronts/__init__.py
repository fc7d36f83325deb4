"""I/O that drives a device: the serve console, the cashier operator (later the POS driver API, serial ports, the browser console)."""
