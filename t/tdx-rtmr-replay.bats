#!/usr/bin/env bats
# tdx-rtmr-replay: RTMR replay and named events, on real Phala and dstack data.

load helpers/common

R() { "$BIN/tdx-rtmr-replay" "$@"; }
APP=944edab771280ede410e7b9e66fcaee6b2c4a12c

setup() {
	cp "$DATA/phala-info.json" "$DATA/phala-quote.bin" "$DATA/phala-compose.yml" "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR" || return 1
}

@test "the real Info replays to tcb_info and the quote; app id and compose bind" {
	run R --app-id "$APP" --compose phala-compose.yml --quote phala-quote.bin phala-info.json
	assert_success
	assert_line "rtmr0=68102e7b524af310f7b7d426ce75481e36c40f5d513a9009c046e9d37e31551f0134d954b496a3357fd61d03f07ffe96 verified (--quote), matches tcb_info (unsigned)"
	assert_line "rtmr3=700a470643dc8e2f4460aaa486fd7f98dc1416422951b56ae029340b7cd5d651efd7c9a39a03ce0f1147a340c919ce63 verified (--quote), matches tcb_info (unsigned)"
	assert_line "app-id=$APP"
	assert_line "instance-id=ce0b8b919dcf82cdcd06ced46d28c9113137fc3d"
	assert_line "storage-fs=zfs"
	assert_line "compose: ok - phala-compose.yml"
	assert_line "mr_aggregated: ok - 39e23cb4634ccadcf5a6c05fe5ebdc71f864d2d7e5aae51612729fd75efad124"
}

@test "honest words: registers compared only with tcb_info (an unsigned copy) match it, they are not verified" {
	run R --app-id "$APP" --compose phala-compose.yml phala-info.json
	assert_success
	assert_line "rtmr0=68102e7b524af310f7b7d426ce75481e36c40f5d513a9009c046e9d37e31551f0134d954b496a3357fd61d03f07ffe96 matches tcb_info (unsigned)"
	assert_line "rtmr3=700a470643dc8e2f4460aaa486fd7f98dc1416422951b56ae029340b7cd5d651efd7c9a39a03ce0f1147a340c919ce63 matches tcb_info (unsigned)"
	assert_line "app-id: ok - $APP (in the event log, whose rtmr3 only matches tcb_info (unsigned))"
	refute_output --partial verified
	run R --json phala-info.json
	assert_success
	assert_output --partial '"rtmr0":{"value":"68102e7b524af310f7b7d426ce75481e36c40f5d513a9009c046e9d37e31551f0134d954b496a3357fd61d03f07ffe96","status":"matches-tcb-info","compared_with":"tcb_info"}'
	assert_output --partial '"quote_signature_checked":false'
	refute_output --partial '"status":"verified"'
	# With a quote: verified against its registers, and the output says whose
	# signature makes the quote worth trusting (none checked here).
	run R --app-id "$APP" --quote phala-quote.bin phala-info.json
	assert_success
	assert_line "rtmr3=700a470643dc8e2f4460aaa486fd7f98dc1416422951b56ae029340b7cd5d651efd7c9a39a03ce0f1147a340c919ce63 verified (--quote), matches tcb_info (unsigned)"
	assert_line "app-id: ok - $APP (in the event log, whose rtmr3 is verified against the quote)"
	assert_line "note: the quote's fields are used as read, its signature is not checked here: the quote is trusted only after tdx-dcap-verify"
	# An event log with no register source is only replayed.
	"$BIN/tdx-quote-extract" --what event-log "$DATA/phala-app-cert.pem" >log.json
	run R --app-id "$APP" log.json
	assert_success
	assert_line --regexp '^rtmr3=700a4706.* replayed \(no register source\)$'
	assert_line "app-id: ok - $APP (in the event log, whose rtmr3 was compared with nothing)"
	refute_output --partial "note:"
}

@test "app id forms: 0x and app_ prefixes, upper case" {
	run R --app-id "0x944EDAB771280EDE410E7B9E66FCAEE6B2C4A12C" phala-info.json
	assert_success
	run R --app-id "app_$APP" phala-info.json
	assert_success
}

@test "composition: tdx-quote-extract | tdx-rtmr-replay --quote -" {
	run sh -c "'$BIN/tdx-quote-extract' phala-info.json | '$BIN/tdx-rtmr-replay' --quote - phala-info.json"
	assert_success
	assert_line --partial "rtmr2=a2a58c9a959a4fa44bd6da0c97a2270c051faf12084cfe91ae900e4fdff6cdd4f69a82005e04ee920f231497894d677f verified"
	run sh -c "'$BIN/tdx-quote-extract' --hex phala-info.json | '$BIN/tdx-rtmr-replay' --quote - phala-info.json"
	assert_success
}

@test "composition: a certificate's event log replays to the quote it carries" {
	run sh -c "'$BIN/tdx-quote-extract' -o q.bin '$DATA/phala-app-cert.pem' &&
		'$BIN/tdx-quote-extract' --what event-log '$DATA/phala-app-cert.pem' | '$BIN/tdx-rtmr-replay' --quote q.bin -"
	assert_success
	assert_line "rtmr3=700a470643dc8e2f4460aaa486fd7f98dc1416422951b56ae029340b7cd5d651efd7c9a39a03ce0f1147a340c919ce63 verified (--quote)"
	# The same log against another quote (one RTMR3 bit flipped) says no.
	flip_byte q.bin 520
	run sh -c "'$BIN/tdx-quote-extract' --what event-log '$DATA/phala-app-cert.pem' | '$BIN/tdx-rtmr-replay' --quote q.bin -"
	assert_failure 1
	assert_output --partial rtmr3
}

@test "--json gives one object with statuses" {
	run R --json --quote phala-quote.bin phala-info.json
	assert_success
	assert_output --partial '"rtmr1":{"value":"07e6f51aa763abfe75c3ddfbf4f425fe3f0ceff66d807a75e049303dce9addf68e7218729bd419638af63a370f65878c","status":"verified"'
	assert_output --partial '"ok":true'
}

@test "--event prints one bare value" {
	run R --event app-id phala-info.json
	assert_success
	assert_output "$APP"
	run R --event key-provider phala-info.json
	assert_output --regexp '^\{"name":"kms","id":"3059301306072a8648ce3d0201'
	run R --event no-such-event phala-info.json
	assert_failure 1
}

@test "mutation: one boot event digest changes RTMR0 (exit 1, names the register)" {
	replace_text phala-info.json '\"digest\": \"0b8772e5' '\"digest\": \"1b8772e5'
	run R --quote phala-quote.bin phala-info.json
	assert_failure 1
	assert_output --partial "tdx-rtmr-replay: rtmr0 differs: replayed"
	assert_output --partial "tcb_info has 68102e7b"
	assert_output --partial "--quote has 68102e7b"
}

@test "mutation: one runtime payload no longer matches its stored digest (exit 1)" {
	replace_text phala-info.json 'event_payload\": \"de9c74f0' 'event_payload\": \"de9c74f1'
	run R phala-info.json
	assert_failure 1
	assert_output --partial '("os-image-hash"): stored digest'
	assert_output --partial "does not match its name and payload"
}

@test "mutation: a runtime payload with its digest stripped changes RTMR3 (exit 1)" {
	"$BIN/tdx-quote-extract" --what event-log phala-info.json > log.json
	replace_text log.json '"event":"os-image-hash","event_payload":"de9c74f0' '"event":"os-image-hash","event_payload":"de9c74f1'
	perl -pi -e 's/"digest":"[0-9a-f]{96}"(,"event":"os-image-hash")/"digest":""$1/' log.json
	grep -q '"digest":"","event":"os-image-hash","event_payload":"de9c74f1' log.json
	run R --quote phala-quote.bin log.json
	assert_failure 1
	assert_output --partial "rtmr3 differs"
	refute_output --partial "rtmr0 differs"
}

@test "mutation: another app id is exit 1 naming both" {
	run R --app-id 0000000000000000000000000000000000000000 phala-info.json
	assert_failure 1
	assert_output --partial "app-id differs: event has $APP, expected 0000000000000000000000000000000000000000"
}

@test "mutation: one compose byte is exit 1" {
	replace_text phala-compose.yml "image" "imagf"
	run R --compose phala-compose.yml phala-info.json
	assert_failure 1
	assert_output --partial "compose: app_compose.docker_compose_file (109 bytes) differs from phala-compose.yml (109 bytes)"
}

@test "mutation: one byte of app_compose breaks compose_hash (exit 1)" {
	replace_text phala-info.json 'docker_compose_file' 'docker_compose_filf'
	run R phala-info.json
	assert_failure 1
	assert_output --partial "compose_hash differs from SHA-256 of app_compose"
	assert_output --partial "compose-hash event differs"
}

@test "mutation: a tcb_info register is exit 1" {
	replace_text phala-info.json '\"rtmr2\": \"a2a58c9a' '\"rtmr2\": \"a2a58c9b'
	run R phala-info.json
	assert_failure 1
	assert_output --partial "rtmr2 differs: replayed a2a58c9a"
	assert_output --partial "tcb_info has a2a58c9b"
}

@test "mutation: a quote register is exit 1; so is MRTD" {
	flip_byte phala-quote.bin 520
	run R --quote phala-quote.bin phala-info.json
	assert_failure 1
	assert_output --partial "rtmr3 differs: replayed 700a4706"
	assert_output --partial "--quote has 710a4706"
	cp "$DATA/phala-quote.bin" q2.bin
	flip_byte q2.bin 184
	run R --quote q2.bin phala-info.json
	assert_failure 1
	assert_output --partial "mrtd differs"
}

@test "mutation: MRCONFIGID not carrying the compose hash is exit 1" {
	flip_byte phala-quote.bin 240
	run R --quote phala-quote.bin phala-info.json
	assert_failure 1
	assert_output --partial "MRCONFIGID (v1) of --quote does not carry the compose hash"
}

@test "mutation: REPORTDATA is not a register, yet the quote must be well formed" {
	flip_byte phala-quote.bin 568
	run R --quote phala-quote.bin phala-info.json
	assert_success
	head -c 600 "$DATA/phala-quote.bin" > short.bin
	run R --quote short.bin phala-info.json
	assert_failure 3
	assert_output --partial "quote truncated"
}

@test ".1.8 certificate: RTMR3 replays to its own quote, RTMR0-2 are not claimed" {
	run R "$DATA/dstack-attestation-cert.pem"
	assert_success
	assert_line "rtmr3=6f24c170d0fd63fc2b1b53202eea47b013978437fa6982cf5e0438ff95c208994aaa0f4ebab2e3a66824b5b56869137e verified (quote)"
	assert_line "rtmr0=- not-replayable (the log does not cover it)"
	assert_line "rtmr1=- not-replayable (the log does not cover it)"
	refute_line --regexp '^rtmr[012]=.*verified'
}

@test ".1.8: the attestation JSON fixture and the extracted log with --registers 3" {
	run R "$DATA/dstack-tdx-lite-attestation.json"
	assert_success
	assert_line --regexp '^rtmr3=6f24c170.* verified \(quote\)$'
	"$BIN/tdx-quote-extract" "$DATA/dstack-attestation-cert.pem" > q.bin
	run sh -c "'$BIN/tdx-quote-extract' --what event-log '$DATA/dstack-attestation-cert.pem' | '$BIN/tdx-rtmr-replay' --registers 3 --quote q.bin -"
	assert_success
	assert_line --regexp '^rtmr3=6f24c170.* verified \(--quote\)$'
	# Without --registers the partial boot log cannot match RTMR0: said, not hidden.
	run sh -c "'$BIN/tdx-quote-extract' --what event-log '$DATA/dstack-attestation-cert.pem' | '$BIN/tdx-rtmr-replay' --quote q.bin -"
	assert_failure 1
	assert_output --partial "rtmr0 differs"
}

@test ".1.8 msgpack V1: replays exactly as the SCALE V0 sample, raw or in a certificate" {
	R "$DATA/dstack-tdx-lite-attestation.json" > v0.out
	run R "$DATA/dstack-attestation-v1.msgpack"
	assert_success
	assert_line "rtmr3=6f24c170d0fd63fc2b1b53202eea47b013978437fa6982cf5e0438ff95c208994aaa0f4ebab2e3a66824b5b56869137e verified (quote)"
	refute_line --regexp '^rtmr[012]=.*verified'
	[ "$output" = "$(cat v0.out)" ]
	run R "$DATA/dstack-attestation-v1-cert.pem"
	assert_success
	assert_line "source: certificate, 12 events"
	[ "$(echo "$output" | sed 1d)" = "$(sed 1d v0.out)" ]
	run R --json "$DATA/dstack-attestation-v1.msgpack"
	assert_success
	assert_output --partial '"source":"attestation"'
	# The guest agent's Attest form: {"attestation": hex}, here of the V1 bytes.
	printf '{"attestation": "%s"}' "$(od -An -v -tx1 "$DATA/dstack-attestation-v1.msgpack" | tr -d ' \n')" > v1.json
	run R v1.json
	assert_success
	[ "$output" = "$(cat v0.out)" ]
}

@test ".1.8 msgpack V1 with V2 runtime events: V2 digests replay to the (rewritten) RTMR3" {
	run R "$DATA/dstack-attestation-v1-v2events.msgpack"
	assert_success
	# The value make-attestation-v1.pl computed with its own JCS + SHA-384 and wrote into the quote.
	assert_line "rtmr3=9ee020abc55a42c35dd177d058f83201f7c941ff1c069e4c654d6c6718d1a85b356014a5dba24758353f91127a7c86c6 verified (quote)"
	assert_line "app-id=86b0e55f2fa8e4fb69d890f14f54d5612707646e"
	# The same events against the real quote (which measured V1 digests) do not match.
	"$BIN/tdx-quote-extract" "$DATA/dstack-attestation-cert.pem" > real.quote
	"$BIN/tdx-quote-extract" --what event-log "$DATA/dstack-attestation-v1-v2events-cert.pem" > v2.log
	run R --registers 3 --quote real.quote v2.log
	assert_failure 1
	assert_output --partial "rtmr3 differs"
}

@test ".1.8 msgpack V1: a tampered V2 payload no longer replays" {
	cp "$DATA/dstack-attestation-v1-v2events.msgpack" t.msgpack
	# app-id's 20-byte payload (bin8, c4 14) appears twice, in the log and in runtime_events.
	replace_text t.msgpack "$(printf '\xc4\x14\x86\xb0\xe5')" "$(printf '\xc4\x14\x86\xb0\xe6')"
	replace_text t.msgpack "$(printf '\xc4\x14\x86\xb0\xe5')" "$(printf '\xc4\x14\x86\xb0\xe6')"
	run R t.msgpack
	assert_failure 1
	assert_output --partial "rtmr3 differs"
	# Changing only one copy: the runtime_events list no longer repeats the log.
	cp "$DATA/dstack-attestation-v1-v2events.msgpack" t.msgpack
	replace_text t.msgpack "$(printf '\xc4\x14\x86\xb0\xe5')" "$(printf '\xc4\x14\x86\xb0\xe6')"
	run R t.msgpack
	assert_failure 1
	assert_output --partial "runtime event 1 differs from event 4 of the event log"
}

@test ".1.8 msgpack V1: malformed input is exit 3" {
	head -c 100 "$DATA/dstack-attestation-v1.msgpack" > cut.msgpack
	run R cut.msgpack
	assert_failure 3
	assert_output --regexp '^tdx-rtmr-replay: attestation: v1\.platform\.data: .+'
	printf '\x81\xa7version\x02' > v2.msgpack
	run R v2.msgpack
	assert_failure 3
	assert_output "tdx-rtmr-replay: attestation: unsupported attestation version 2 (expected 1)"
	printf '\x80' > empty.msgpack
	run R empty.msgpack
	assert_failure 3
	assert_output 'tdx-rtmr-replay: attestation: v1: missing field "version"'
	printf '\xdf\xff\xff\xff\xff' > huge.msgpack
	run R huge.msgpack
	assert_failure 3
	assert_output --partial "map of 4294967295 pairs cannot fit in the 0 bytes left"
}

@test "GetQuote form: stripped runtime digests are recomputed, zero-padding would fail" {
	q=$(od -An -v -tx1 phala-quote.bin | tr -d ' \n')
	"$BIN/tdx-quote-extract" --what event-log phala-info.json > log.json
	# Strip every runtime digest as GetQuote does.
	perl -pi -e 's/("event_type":134217729,"digest":")[0-9a-f]{96}/$1/g' log.json
	grep -q '"event_type":134217729,"digest":""' log.json
	perl -MJSON::PP -e 'local $/; open my $f, "<", "log.json"; my $l = <$f>; chomp $l;
		print encode_json({quote => $ARGV[0], event_log => $l})' "$q" > getquote.json
	run R getquote.json
	assert_success
	assert_line --regexp '^rtmr3=700a4706.* verified \(quote\)$'
	assert_line --regexp '^rtmr0=68102e7b.* verified \(quote\)$'
}

@test "V2 runtime events: canonical preimage digest, and a wrong preimage is refused" {
	# compose-hash with payload abcd in V2 form (dstack unit vector).
	printf '[{"imr":3,"event_type":134217729,"digest":"9dde1673f544faa94b921825209593ddde08d0baf9cd6990175dffaf3081f1bb10311d56de189491feb33842a050ad7b","event":"compose-hash","event_payload":"abcd","version":2}]' > v2.json
	run R v2.json
	assert_success
	assert_line "compose-hash=abcd"
	printf '[{"imr":3,"event_type":134217729,"digest":"","event":"compose-hash","event_payload":"abcd","version":2,"preimage":"7b7d"}]' > v2bad.json
	run R v2bad.json
	assert_failure 1
	assert_output --partial "stored V2 preimage differs from the canonical form"
}

@test "V1 digest matches the dstack unit vector (app-id deadbeef)" {
	printf '[{"imr":3,"event_type":134217729,"digest":"67b4be4efed0893cfa2bb1d35dca209ad8348b4c97f980807bcde8b9a0f26398dd0923d6eccb5aa2096d98046da8740f","event":"app-id","event_payload":"deadbeef"}]' > v1.json
	run R v1.json
	assert_success
	printf '[{"imr":3,"event_type":134217729,"digest":"77b4be4efed0893cfa2bb1d35dca209ad8348b4c97f980807bcde8b9a0f26398dd0923d6eccb5aa2096d98046da8740f","event":"app-id","event_payload":"deadbeef"}]' > v1bad.json
	run R v1bad.json
	assert_failure 1
}

@test "named events come only from before system-ready; later ones still extend RTMR3" {
	"$BIN/tdx-quote-extract" --what event-log phala-info.json > log.json
	perl -pi -e 's/\]$/,{"imr":3,"event_type":134217729,"digest":"","event":"app-id","event_payload":"00"}]/' log.json
	run R --app-id "$APP" --quote phala-quote.bin log.json
	assert_failure 1
	assert_output --partial "rtmr3 differs"
	refute_output --partial "app-id differs"
	run R --app-id "$APP" --registers 0,1,2 --quote phala-quote.bin log.json
	assert_success
}

@test "malformed logs are exit 3 with a message" {
	printf '[{"imr":4,"event_type":1,"digest":"","event":"","event_payload":""}]' > a.json
	printf '[{"imr":0,"event_type":1,"digest":"abcd","event":"","event_payload":""}]' > b.json
	printf '[{"imr":0,"event_type":1,"digest":"","event":"","event_payload":""}]' > c.json
	printf '[{"imr":2,"event_type":134217729,"digest":"","event":"x","event_payload":""}]' > d.json
	printf '[{"imr":0,"event_type":4294967296,"digest":"","event":"","event_payload":""}]' > e.json
	printf '[{"imr":"0","event_type":1}]' > f.json
	printf '[{"imr":3,"event_type":134217729,"event":"x","event_payload":"","version":3}]' > g.json
	printf '{"tcb_info":"{\\"event_log\\": 5}"}' > h.json
	printf '{"tcb_info":""}' > i.json
	printf '{"something":1}' > j.json
	printf '[1,2' > k.json
	printf '\0\0\x04' > l.bin
	: > empty
	for f in a.json b.json c.json d.json e.json f.json g.json h.json i.json j.json k.json l.bin empty; do
		run R "$f"
		assert_failure 3
		assert_output --regexp '^tdx-rtmr-replay: .+'
	done
	run R --quote phala-compose.yml phala-info.json
	assert_failure 3
}

@test "an event_type above INT32_MAX is unsigned" {
	run R phala-info.json
	assert_success
	run R --json phala-info.json
	assert_output --partial '"events":30'
}

@test "--compose on an input without app_compose is exit 1, never a silent pass" {
	run R --compose phala-compose.yml "$DATA/dstack-attestation-cert.pem"
	assert_failure 1
	assert_output --partial "cannot check phala-compose.yml: the certificate input carries no app_compose"
}

@test "usage errors are exit 2" {
	run R --app-id 1234 phala-info.json
	assert_failure 2
	run R --registers 5 phala-info.json
	assert_failure 2
	run R --quote - -
	assert_failure 2
	run R --event x --json phala-info.json
	assert_failure 2
}

@test "--report-data: the real quote's REPORTDATA passes, any other value is exit 1" {
	rd=997dfa609c1256a26b7b7f10cc60e5ec28bffd805fb1536a5387510787b479db9c52d3c8ea37b1e85ab673075bbe213361a61a60c95f4960aca49d12b32bfbdf
	run R --report-data "$rd" --quote phala-quote.bin phala-info.json
	assert_success
	assert_output --partial "report-data: ok - $rd"
	run R --report-data "${rd%?}e" --quote phala-quote.bin phala-info.json
	assert_failure 1
	assert_output --partial "report-data: --quote REPORTDATA $rd is not the expected"
	run R --report-data 00 phala-info.json
	assert_failure 2
}
