"""The service layer: what both front doors (the JSON API and the pages) call."""
