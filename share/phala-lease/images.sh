# shellcheck shell=sh disable=SC2034,SC2153,SC2154 # variables shared by the sourced helpers; OPT_* set by pl_getopts
# The OS image releases the attestation gate accepts: the allowed-images list
# (release identities, "OS_IMAGE_HASH NAME" a line), and the service's own
# release list (phala os-images), offered for review and never trusted for
# being listed.

pl_images() {
	pl_getopts images '--service --json' '' "$@"
	shift "$PL_SHIFT"
	pl_setup no-claims
	[ -f "$CF_IMAGES" ] || pl_die 4 "allowed-image list $CF_IMAGES: no such file"
	pl_image_entries "$CF_IMAGES" >"$PL_TMP/allowed" || pl_die 2 "$(sed -n '$s/^verify: //p' "$PL_TMP/allowed")"
	: >"$PL_TMP/service"
	if [ -n "$OPT_service" ]; then
		run_phala os-images --json --all
		if ! pl_ok_json; then
			rc=$PL_RC; [ "$rc" -ne 0 ] || rc=5
			pl_die "$rc" "phala os-images: $(pl_cli_error)"
		fi
		pj --embedded items "$PL_OUT" items os_image_hash name version is_dev >"$PL_TMP/service" 2>"$PL_TMP/err" ||
			pl_die 5 "phala os-images: malformed output: $(head -n 1 "$PL_TMP/err")"
	fi
	tab=$(printf '\t')
	if [ -n "$OPT_json" ]; then
		allowed='' service=''
		while read -r h n; do
			allowed="$allowed${allowed:+,}$(pl_jobject s:os_image_hash="$h" s:name="$n" | tr -d '\n')"
		done <"$PL_TMP/allowed"
		while IFS="$tab" read -r h n v dev; do
			ok=false
			awk -v h="$h" '$1 == h { f = 1 } END { exit !f }' "$PL_TMP/allowed" && ok=true
			service="$service${service:+,}$(pl_jobject s:os_image_hash="$h" s:name="$n" s:version="$v" b:is_dev="$dev" b:allowed="$ok" | tr -d '\n')"
		done <"$PL_TMP/service"
		set -- s:allowed_images="$CF_IMAGES" j:allowed="[$allowed]"
		[ -z "$OPT_service" ] || set -- "$@" j:service="[$service]"
		pl_jobject "$@"
		return 0
	fi
	printf 'allowed-images: %s\n' "$CF_IMAGES"
	while read -r h n; do printf 'allowed: %s %s\n' "$h" "$n"; done <"$PL_TMP/allowed"
	[ -s "$PL_TMP/allowed" ] || printf 'allowed: none (the gate refuses every CVM)\n'
	while IFS="$tab" read -r h n v dev; do
		[ "$dev" = true ] && kind=dev || kind=prod
		verdict='NOT allowed'
		awk -v h="$h" '$1 == h { f = 1 } END { exit !f }' "$PL_TMP/allowed" && verdict=allowed
		printf 'service: %s %s %s %s %s\n' "${h:--}" "$n" "$v" "$kind" "$verdict"
	done <"$PL_TMP/service"
	cat <<EOF
To accept a release: review it first (dstack's release notes and its image,
which tdx-measure --image checks against the os_image_hash), then put the line
"OS_IMAGE_HASH NAME" in a copy of the list and name the copy with
allowed_images = FILE in the user config, or PHALA_LEASE_ALLOWED_IMAGES=FILE.
Being listed by the service is not a reason to trust a release.
EOF
}
