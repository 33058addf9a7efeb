"""Following needs, saved searches with their alerts, and the followed-deadlines calendar."""
