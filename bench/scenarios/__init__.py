"""The four scenarios of the issue; each module has a conductor side (`drive`) and a
worker side (`work`), which run in different processes and talk through
`bench.worker.Channel`."""
