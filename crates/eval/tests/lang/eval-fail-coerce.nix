let x = { }; in "${x}"
