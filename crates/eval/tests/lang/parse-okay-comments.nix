# line comment
/* block */ 1 /* another
 spanning lines */ + # end
/** doc comment */ 2 /***/ /* ** * / */