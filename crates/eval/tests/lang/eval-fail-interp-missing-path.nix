"${./this-file-does-not-exist}"
