#!/usr/bin/env bash
# Recreate testdata/redfish from the shared Redfish captures, trimmed.
#
#   testdata/redfish/import.sh [SHARED_REDFISH_DIR]
#
# SHARED_REDFISH_DIR defaults to ../shared/data/redfish relative to the repo root.
# Everything under testdata/redfish except this script is deleted and rebuilt.
# Captured files are copied byte for byte (checked with cmp at the end); the only
# files written here are the telegraf scaffolding (marked "@prefail.scaffold") and
# telegraf/README.md. See testdata/README.md for sources, licenses and trimming.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=${1:-$repo/../shared/data/redfish}
src=$(cd "$src" && pwd)
dst=$here

# A capture bigger than this after trimming has its longest logs cut to the
# newest LOG_KEEP entries.
CAPTURE_MAX_BYTES=$((4 * 1024 * 1024))
LOG_KEEP=1500

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT

# Start from scratch, keeping only this script.
find "$dst" -mindepth 1 -maxdepth 1 ! -name import.sh -exec rm -rf {} +

# copy SRC DST: byte-identical copy, recorded for the final cmp check.
copy() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2"
	chmod 0644 "$2"
	printf '%s\t%s\n' "$1" "$2" >>"$manifest"
}

# keep REL POWER: is the file REL (relative to a mockup root) read by a health scan?
keep() {
	local p=$1 power=$2
	case $p in
	index.json) return 0 ;;
	SessionService/index.json | SessionService/Sessions/*) return 0 ;;
	Systems/index.json | Managers/index.json) return 0 ;;
	Chassis/*)
		case /$p in
		*/TrustedComponents/* | */Certificates/* | */Controls/*) return 1 ;;
		esac
		return 0
		;;
	PowerEquipment/*) [[ $power == 1 ]] && return 0 || return 1 ;;
	esac
	[[ $p =~ ^Systems/[^/]+/index\.json$ ]] && return 0
	[[ $p =~ ^Systems/[^/]+/(Memory|Processors|Storage|SimpleStorage|LogServices)/ ]] && return 0
	[[ $p =~ ^Managers/[^/]+/index\.json$ ]] && return 0
	[[ $p =~ ^Managers/[^/]+/LogServices/ ]] && return 0
	return 1
}

# cap_logs DIR: if DIR is over CAPTURE_MAX_BYTES, keep only the newest LOG_KEEP
# entry directories of every LogServices/*/Entries holding more than that.
# "Newest" = latest Created timestamp, then highest Id (numeric ids compare as numbers).
cap_logs() {
	local dir=$1 size entries n
	size=$(du -sb "$dir" | cut -f1)
	((size > CAPTURE_MAX_BYTES)) || return 0
	while IFS= read -r entries; do
		n=$(find "$entries" -mindepth 1 -maxdepth 1 -type d | wc -l)
		((n > LOG_KEEP)) || continue
		echo "  cap: $entries: $n entries, keeping newest $LOG_KEEP" >&2
		for e in "$entries"/*/index.json; do
			jq -r --arg d "$(basename "$(dirname "$e")")" \
				'[(.Created // ""), $d] | @tsv' "$e" 2>/dev/null ||
				printf '\t%s\n' "$(basename "$(dirname "$e")")"
		done | sort -t$'\t' -k1,1 -k2,2n | head -n "-$LOG_KEEP" | cut -f2 |
			while IFS= read -r old; do
				rm -rf "${entries:?}/$old"
				# forget the dropped files in the manifest
				grep -v -F "$entries/$old/" "$manifest" >"$manifest.tmp" || true
				mv "$manifest.tmp" "$manifest"
			done
	done < <(find "$dir" -type d -path '*/LogServices/*/Entries' | sort)
}

# import_tree SRC DST POWER: copy the kept files of one mockup-layout capture.
import_tree() {
	local from=$1 to=$2 power=$3 f rel
	echo "tree $from -> ${to#"$dst"/}" >&2
	while IFS= read -r -d '' f; do
		rel=${f#"$from"/}
		keep "$rel" "$power" && copy "$f" "$to/$rel"
	done < <(find "$from" -type f -print0)
	cap_logs "$to"
}

# ---------------------------------------------------------------- DMTF, HPE, Cray
mkdir -p "$dst/dmtf" "$dst/hpe-ilo" "$dst/cray-csm" "$dst/supermicro" "$dst/telegraf"
for t in "$src"/dmtf/public-*/; do
	t=${t%/}
	power=0
	case ${t##*/} in public-power-shelf | public-pdu) power=1 ;; esac
	import_tree "$t" "$dst/dmtf/${t##*/}" "$power"
done
copy "$src/dmtf/LICENSE.md" "$dst/dmtf/LICENSE.md"

for t in DL380a DL360_Gen12; do
	import_tree "$src/hpe-ilo/$t" "$dst/hpe-ilo/$t" 0
done
copy "$src/hpe-ilo/LICENSE" "$dst/hpe-ilo/LICENSE"

for t in Intel DL325; do
	import_tree "$src/cray-csm/$t" "$dst/cray-csm/$t" 0
done
copy "$src/cray-csm/LICENSE" "$dst/cray-csm/LICENSE"

# ---------------------------------------------------------------- Supermicro (flat)
# Same keep rule, applied to the flat names (_redfish_v1_A_B_C.json = A/B/C).
sm=$src/supermicro/supermicro_x10_fixtures
for f in "$sm"/*.json; do
	b=${f##*/}
	case $b in
	_redfish_v1.json | _redfish_v1_SessionService.json | _redfish_v1_SessionService_Sessions*.json | \
		_redfish_v1_Chassis*.json | _redfish_v1_Systems.json | _redfish_v1_Systems_1.json | \
		_redfish_v1_Systems_1_Memory*.json | _redfish_v1_Systems_1_Processors*.json | \
		_redfish_v1_Systems_1_Storage*.json | _redfish_v1_Systems_1_SimpleStorage*.json | \
		_redfish_v1_Systems_1_LogServices*.json | _redfish_v1_Managers.json | \
		_redfish_v1_Managers_1.json | _redfish_v1_Managers_1_LogServices*.json)
		copy "$f" "$dst/supermicro/X10SDV/$b"
		;;
	esac
done
copy "$sm/README.md" "$dst/supermicro/X10SDV/README.md"
copy "$src/supermicro/LICENSE" "$dst/supermicro/LICENSE"

# ---------------------------------------------------------------- telegraf
# Single responses assembled into walkable DMTF-layout trees.
tg=$src/telegraf
tgd=$dst/telegraf
SCAFFOLD='"@prefail.scaffold": "written for the test tree, not captured"'
scaffold_list=$(mktemp)
trap 'rm -f "$manifest" "$scaffold_list"' EXIT

# put TREE RESOURCE-PATH FILE: capture FILE served at /redfish/v1/RESOURCE-PATH.
put() { copy "$tg/$3" "$tgd/$1/$2/index.json"; }

# scaffold TREE RESOURCE-PATH JSON
scaffold() {
	mkdir -p "$tgd/$1/$2"
	printf '%s\n' "$3" >"$tgd/$1/$2/index.json"
	jq -e '."@prefail.scaffold"' "$tgd/$1/$2/index.json" >/dev/null
	echo "$1/${2:+$2/}index.json" >>"$scaffold_list"
}

# root TREE SYSTEMS(0|1): service root; no ProtocolFeaturesSupported (no $expand).
root() {
	local systems=''
	[[ $2 == 1 ]] && systems=',
  "Systems": {"@odata.id": "/redfish/v1/Systems"}'
	scaffold "$1" "" "{
  $SCAFFOLD,
  \"@odata.id\": \"/redfish/v1/\",
  \"@odata.type\": \"#ServiceRoot.v1_0_0.ServiceRoot\",
  \"Id\": \"RootService\",
  \"Name\": \"Root Service\",
  \"RedfishVersion\": \"1.0.0\",
  \"Chassis\": {\"@odata.id\": \"/redfish/v1/Chassis\"}$systems
}"
}

# chassis_collection TREE ID...
chassis_collection() {
	local tree=$1 members='' id
	shift
	for id in "$@"; do
		members+="${members:+, }{\"@odata.id\": \"/redfish/v1/Chassis/$id\"}"
	done
	scaffold "$tree" Chassis "{
  $SCAFFOLD,
  \"@odata.id\": \"/redfish/v1/Chassis\",
  \"@odata.type\": \"#ChassisCollection.ChassisCollection\",
  \"Name\": \"Chassis Collection\",
  \"Members\": [$members],
  \"Members@odata.count\": $#
}"
}

# Dell PowerEdge R640 (iDRAC9); one variant per *invalid.json.
dell_tree() { # TREE CHASSIS POWER THERMAL SYSTEM
	root "$1" 1
	chassis_collection "$1" System.Embedded.1
	put "$1" Chassis/System.Embedded.1 "dell/$2"
	put "$1" Chassis/System.Embedded.1/Power "dell/$3"
	put "$1" Chassis/System.Embedded.1/Thermal "dell/$4"
	put "$1" Systems dell/dell_available_systems.json
	put "$1" Systems/System.Embedded.1 "dell/$5"
}
dell_tree dell-r640 dell_chassis.json dell_power.json dell_thermal.json dell_systems.json
dell_tree dell-r640-invalid-chassis dell_chassisinvalid.json dell_power.json dell_thermal.json dell_systems.json
dell_tree dell-r640-invalid-power dell_chassis.json dell_powerinvalid.json dell_thermal.json dell_systems.json
dell_tree dell-r640-invalid-systems dell_chassis.json dell_power.json dell_thermal.json dell_systemsinvalid.json
dell_tree dell-r640-invalid-thermal dell_chassis.json dell_power.json dell_thermalinvalid.json dell_systems.json

# HPE ProLiant DL360 Gen10 (iLO 5). hp_chassis.json has no @odata.id: telegraf
# serves it as /redfish/v1/Chassis/1.
hpe_tree() { # TREE POWER THERMAL SYSTEM
	root "$1" 1
	chassis_collection "$1" 1
	put "$1" Chassis/1 hp/hp_chassis.json
	put "$1" Chassis/1/Power "hp/$2"
	put "$1" Chassis/1/Thermal "hp/$3"
	put "$1" Systems hp/hp_available_systems.json
	put "$1" Systems/1 "hp/$4"
}
hpe_tree hpe-dl360-gen10 hp_power.json hp_thermal.json hp_systems.json
hpe_tree hpe-dl360-gen10-nolink hp_power.json hp_thermal.json hp_systems_nolink.json
hpe_tree hpe-dl360-gen10-invalid-power hp_powerinvalid.json hp_thermal.json hp_systems.json
hpe_tree hpe-dl360-gen10-invalid-systems hp_power.json hp_thermal.json hp_systemsinvalid.json
hpe_tree hpe-dl360-gen10-invalid-thermal hp_power.json hp_thermalinvalid.json hp_systems.json

# iLO 4 Thermal alone: no system captured, so the root has no Systems link and
# Chassis/1 is scaffolding that links only Thermal.
root hpe-ilo4-thermal 0
chassis_collection hpe-ilo4-thermal 1
scaffold hpe-ilo4-thermal Chassis/1 "{
  $SCAFFOLD,
  \"@odata.id\": \"/redfish/v1/Chassis/1\",
  \"@odata.type\": \"#Chassis.v1_0_0.Chassis\",
  \"Id\": \"1\",
  \"Name\": \"Computer System Chassis\",
  \"Thermal\": {\"@odata.id\": \"/redfish/v1/Chassis/1/Thermal\"}
}"
put hpe-ilo4-thermal Chassis/1/Thermal hp/hp_thermal_ilo4.json

# ThermalSubsystem / PowerSubsystem / Storage responses. hp_chassis_subsys.json
# has no @odata.id: telegraf serves it as /redfish/v1/Chassis/1.
t=hpe-subsystems
root $t 1
chassis_collection $t 1
put $t Chassis/1 hp/hp_chassis_subsys.json
put $t Chassis/1/ThermalSubsystem hp/thermal_subsys/hp_thermal_subsys.json
put $t Chassis/1/ThermalSubsystem/ThermalMetrics hp/thermal_subsys/hp_thermal_metrics.json
put $t Chassis/1/ThermalSubsystem/Fans hp/thermal_subsys/hp_thermal_subsys_fans.json
put $t Chassis/1/ThermalSubsystem/Fans/0 hp/thermal_subsys/hp_thermal_subsys_fans_0.json
put $t Chassis/1/PowerSubsystem hp/power_subsys/hp_power_subsys.json
put $t Chassis/1/PowerSubsystem/PowerSupplies hp/power_subsys/hp_power_subsys_psu.json
put $t Chassis/1/PowerSubsystem/PowerSupplies/PowerSupply1 hp/power_subsys/hp_power_subsys_psu_1.json
# Its own @odata.id says Bay1/Metrics, although PowerSupply1 links .../PowerSupply1/Metrics.
put $t Chassis/1/PowerSubsystem/PowerSupplies/Bay1/Metrics hp/power_subsys/hp_power_subsys_metrics.json
put $t Systems hp/hp_available_systems.json
put $t Systems/1 hp/hp_systems.json
put $t Systems/1/Storage hp/hp_storage.json
put $t Systems/1/Storage/DE043000 hp/storage_subsys/hp_storage_de043000.json
put $t Chassis/DE043000/Drives/0 hp/storage_subsys/hp_storage_drive0.json

# telegraf's synthetic service root: kept for reference only (it advertises
# $expand, which these single responses never supported), not used as a root.
copy "$tg/base.json" "$tgd/base.json"
copy "$tg/LICENSE" "$tgd/LICENSE"

{
	cat <<'EOF'
# telegraf Redfish responses, assembled into walkable trees

Source: influxdata/telegraf @ plugins/inputs/redfish/testdata (MIT, see LICENSE).
Upstream these are single responses served one by one by a test HTTP server.
Here each captured file is copied unmodified to `<tree>/<path below /redfish/v1>/index.json`,
at the path of its own `@odata.id` (trailing slash dropped), or, for the two files
without one (`hp/hp_chassis.json`, `hp/hp_chassis_subsys.json`), at the path the
telegraf test serves it from (`/redfish/v1/Chassis/1`).

| tree | what it is |
|---|---|
| dell-r640 | Dell PowerEdge R640, iDRAC9: Chassis, Power, Thermal, Systems |
| dell-r640-invalid-{chassis,power,systems,thermal} | dell-r640 with that one resource replaced by telegraf's malformed `dell_*invalid.json` |
| hpe-dl360-gen10 | HPE ProLiant DL360 Gen10: Chassis, Power, Thermal, Systems |
| hpe-dl360-gen10-nolink | hpe-dl360-gen10 with `hp_systems_nolink.json` (a system without `Links`) |
| hpe-dl360-gen10-invalid-{power,systems,thermal} | hpe-dl360-gen10 with that one resource replaced by `hp_*invalid.json` |
| hpe-ilo4-thermal | iLO 4 Thermal alone (no system) |
| hpe-subsystems | ThermalSubsystem, PowerSubsystem, Storage responses |

`base.json` (telegraf's test service root) is copied for reference only: it
advertises `$expand`, which these single responses never supported.

Links in the captures that point at resources nobody captured (PCIe devices,
Managers, `PowerSupply1/Metrics`, a PDU outlet on another host, ...) are left
dangling on purpose.

## Scaffolding (ours, not captured)

These files were written by `../import.sh` so that a client can walk the trees.
Each carries `"@prefail.scaffold": "written for the test tree, not captured"`.
Service roots do not advertise `ProtocolFeaturesSupported`/`$expand`.

EOF
	sed 's/^/- `/; s/$/`/' "$scaffold_list"
} >"$tgd/README.md"

# ---------------------------------------------------------------- checks
fail=0
while IFS=$'\t' read -r a b; do
	cmp -s "$a" "$b" || { echo "DIFFERS: $b" >&2; fail=1; }
done <"$manifest"
# every file is a copied capture, scaffolding, a README or this script
while IFS= read -r f; do
	case $f in
	"$dst/import.sh" | "$tgd/README.md") continue ;;
	esac
	if grep -q -F -x "$f" <(cut -f2 "$manifest"); then continue; fi
	if grep -q -F -x "${f#"$tgd"/}" "$scaffold_list"; then continue; fi
	echo "UNEXPECTED: $f" >&2
	fail=1
done < <(find "$dst" -type f | sort)
# telegraf captures that parse sit at the path of their own @odata.id
while IFS=$'\t' read -r a b; do
	case $b in "$tgd"/*/index.json) ;; *) continue ;; esac
	id=$(jq -r '."@odata.id" // empty' "$b" 2>/dev/null) || continue
	[[ -n $id ]] || continue
	want=${b#"$tgd"/*/}
	want=/redfish/v1/${want%index.json}
	[[ ${id%/}/ == "${want%/}/" ]] || { echo "MISPLACED: $b has @odata.id $id" >&2; fail=1; }
done <"$manifest"
((fail == 0)) || { echo "import.sh: checks FAILED" >&2; exit 1; }
echo "import.sh: $(wc -l <"$manifest") files byte-identical to $src; $(wc -l <"$scaffold_list") scaffolding files" >&2
du -sh "$dst" >&2
