"""Services: an agent plus a state machine, offered under a name, with named version sets that pin versions
and LLM preferences."""
