-- run.lua - runs the scenario script named by the global `script` (set
-- by protocol.sh with -D), turning a Lua error into a diagnostic line:
-- miltertest itself does not always print it.
local ok, err = pcall(dofile, script)
if not ok then
	mt.echo("# Lua error: " .. tostring(err))
	error(err, 0)
end
