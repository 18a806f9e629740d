-- empty script: the cost of EVALSHA itself
return 1
