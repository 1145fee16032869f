-- wrk script: POST a distinct settle per request (own Idempotency-Key and visit), patients of
-- the data file in turn, each stay the patient's next one-night slot (a person is in one stay
-- at a time), and a random 20-item inpatient bill from a pre-generated pool.
--   wrk -s bench/settle.lua URL -- DATAFILE PREFIX TOKEN PATH [FIRST_SLOT]
-- DATAFILE is a Lua file written by bench/run.py returning {patients = {{id, name}, ...},
-- items = {"[...json...]", ...}, visits = {{admitted, discharged}, ...} (consecutive nights),
-- threads = N}. FIRST_SLOT (default 0): the night a run starts from, so runs one after the
-- other on the same database give each patient later nights (no two stays overlap).

threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   data = dofile(args[1])
   prefix = args[2]
   token = args[3]
   path = args[4]
   first_slot = tonumber(args[5] or "0") or 0
   counter = 0
   statuses = {}
   math.randomseed(tid * 7919 + os.time())
   headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
   }
end

function request()
   counter = counter + 1
   local key = prefix .. "-" .. tid .. "-" .. counter
   local turn = counter - 1
   local p = data.patients[turn % #data.patients + 1]
   local slot = first_slot + math.floor(turn / #data.patients) * (data.threads or 1) + tid - 1
   local v = data.visits[slot % #data.visits + 1]
   local items = data.items[math.random(#data.items)]
   headers["Idempotency-Key"] = key
   local body = '{"patient":{"id_number":"' .. p[1] .. '","name":"' .. p[2] ..
      '"},"visit":{"visit_id":"' .. key .. '","type":"inpatient","admitted_on":"' .. v[1] ..
      '","discharged_on":"' .. v[2] .. '","diagnoses":["I21.9"]},"items":' .. items .. '}'
   return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
   statuses[status] = (statuses[status] or 0) + 1
end

dofile(os.getenv("MEDAID_WRK_REPORT"))
