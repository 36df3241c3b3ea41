# Code frames show lines without their trailing blanks.
let
  a = 1;  	 
   
  b = x;	
  c = 2; 
in
b
