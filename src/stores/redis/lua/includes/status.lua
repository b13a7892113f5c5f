-- Status codes returned as the first element of a script's reply. mapScriptStatus() in
-- src/stores/redis/script-status.ts is the only place that translates them.
local OK = 0
local DUPLICATE = 1
local NOT_FOUND = -1       -- no event with that ID
local NOT_OWNER = -2       -- the event belongs to another user
local CLAIMED = -3         -- the event is being sent (claimed), so it cannot be changed
local CLAIM_LOST = -4      -- the caller's claim expired and another claim replaced it
local MAX_OUTSTANDING = -5 -- the user is at their cap
local RATE_LIMITED = -6    -- a rate-limit charge taken in the script was refused
