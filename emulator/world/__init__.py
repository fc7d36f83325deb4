"""The one composition root: a simulated or a real world (servers, network, device) from a spec."""
