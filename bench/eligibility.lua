-- wrk script: GET the eligibility of a random registered patient.
--   wrk -s bench/eligibility.lua URL -- DATAFILE TOKEN DATE

threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   data = dofile(args[1])
   token = args[2]
   on = args[3]
   statuses = {}
   math.randomseed(tid * 104729 + os.time())
   headers = {["Authorization"] = "Bearer " .. token}
end

function request()
   local p = data.registered[math.random(#data.registered)]
   return wrk.format("GET", "/v1/persons/" .. p .. "/eligibility?on=" .. on, headers)
end

function response(status, hdrs, body)
   statuses[status] = (statuses[status] or 0) + 1
end

dofile(os.getenv("MEDAID_WRK_REPORT"))
