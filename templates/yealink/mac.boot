#!version:1.0.0.1
## provedge boot file: ${device.mac}
include:config "y0000000000${model.hwid}.cfg"
include:config "${device.mac}.cfg"
overwrite_mode = 1
