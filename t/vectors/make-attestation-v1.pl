#!/usr/bin/perl
# Re-encodes the real dstack .1.8 attestation (testdata/dstack-tdx-lite-attestation.json,
# SCALE V0) in the msgpack V1 wire form, exactly as dstack's
# VersionedAttestation::V1 -> Attestation::to_msgpack (rmp_serde::to_vec_named)
# writes it; doc/attestation-formats.md lists the facts and their sources.
# This is an independent encoder (core Perl only) so the C decoder is checked
# against something it did not produce.
#
#   make-attestation-v1.pl [options] > out.msgpack
#     --v2            mark every runtime event EventLogVersion::V2 (as dstack
#                     does when any event is V2) and rewrite the quote's RTMR3
#                     to the V2 replay (the quote signature no longer holds)
#     --version N     the top-level version field (default 1)
#     --platform KIND platform.kind (default tdx)
#     --stack KIND    stack.kind (default dstack). dstack-pod adds report_data_payload and,
#                     as Attestation::with_report_data does, sets report_data (stack and
#                     quote) to SHA-512("app-data:" || payload)
#     --unbound       dstack-pod: keep the original report_data (binding broken)
#     --trailing      append one byte after the map
#     --hex           print hex instead of bytes
use strict;
use warnings;
use Digest::SHA qw(sha384 sha512);
use Getopt::Long;
use JSON::PP;

my ($v2, $version, $platform, $stack, $unbound, $trailing, $hex) = (0, 1, 'tdx', 'dstack', 0, 0, 0);
GetOptions('v2' => \$v2, 'version=i' => \$version, 'platform=s' => \$platform, 'stack=s' => \$stack,
	   'unbound' => \$unbound, 'trailing' => \$trailing, 'hex' => \$hex)
	or die "usage: $0 [--v2] [--version N] [--platform K] [--stack K] [--unbound] [--trailing] [--hex]\n";

my $root = $0 =~ m{^(.*)/t/vectors/} ? $1 : '.';
open my $fh, '<', "$root/testdata/dstack-tdx-lite-attestation.json" or die "open: $!\n";
my $doc = decode_json(do { local $/; <$fh> });
my $raw = pack 'H*', $doc->{attestation};

# --- SCALE V0 reader (parity-scale-codec compact lengths) ---
my $pos = 0;
sub take { my ($n) = @_; die "truncated at $pos\n" if $pos + $n > length $raw; my $s = substr $raw, $pos, $n; $pos += $n; $s }
sub compact {
	my $b0 = ord take(1);
	my $mode = $b0 & 3;
	return $b0 >> 2 if $mode == 0;
	return ($b0 | ord(take(1)) << 8) >> 2 if $mode == 1;
	return unpack('V', chr($b0) . take(3)) >> 2 if $mode == 2;
	die "big compact not expected\n";
}
sub sbytes { take(compact()) }
die "not SCALE V0\n" unless ord(take(1)) == 0;
die "not DstackTdx\n" unless ord(take(1)) == 0;
my $quote = sbytes();
my @log;
for (1 .. compact()) {
	my ($imr, $type) = unpack 'VV', take(8);
	push @log, { imr => $imr, type => $type, digest => sbytes(), event => sbytes(), payload => sbytes() };
}
my @runtime;
push @runtime, { event => sbytes(), payload => sbytes() } for 1 .. compact();
my $report_data = take(64);
my $config = sbytes();
die "trailing bytes in V0\n" if $pos != length $raw;

# --- msgpack writer: rmp's smallest-form rules (rmp 0.8 encode) ---
sub mp_uint {
	my ($v) = @_;
	return chr($v) if $v < 128;
	return "\xcc" . chr($v) if $v < 256;
	return "\xcd" . pack('n', $v) if $v < 65536;
	return "\xce" . pack('N', $v) if $v < 4294967296;
	return "\xcf" . pack('Q>', $v);
}
sub mp_len {
	my ($len, $fix, $fixmax, @m) = @_;    # @m: markers for 8-, 16-, 32-bit lengths ('' = none)
	return chr($fix | $len) if $len < $fixmax;
	return $m[0] . chr($len) if $m[0] ne '' && $len < 256;
	return $m[1] . pack('n', $len) if $len < 65536;
	return $m[2] . pack('N', $len);
}
sub mp_str { my ($s) = @_; mp_len(length $s, 0xa0, 32, "\xd9", "\xda", "\xdb") . $s }
sub mp_bin { my ($s) = @_; my $n = length $s; ($n < 256 ? "\xc4" . chr($n) : $n < 65536 ? "\xc5" . pack('n', $n) : "\xc6" . pack('N', $n)) . $s }
sub mp_array { my @items = @_; mp_len(scalar @items, 0x90, 16, '', "\xdc", "\xdd") . join '', @items }
# A struct as rmp_serde's struct-map form: field names in declaration order.
sub mp_struct { my @kv = @_; my $out = mp_len(@kv / 2, 0x80, 16, '', "\xde", "\xdf"); $out .= mp_str(shift @kv) . shift @kv while @kv; $out }
# Vec<u8> without serde_human_bytes: serde's seq of u8.
sub mp_vec_u8 { mp_array(map { mp_uint($_) } unpack 'C*', $_[0]) }

# --- RuntimeEvent V2 digest (cc-eventlog runtime_events.rs) and RTMR3 ---
my $RUNTIME = 0x08000001;
sub v2_digest {
	my ($name, $payload) = @_;
	my $canon = JSON::PP->new->canonical->encode({ name => $name, payload => unpack('H*', $payload), type => $RUNTIME });
	sha384($canon);
}
if ($v2) {
	my $rtmr3 = "\0" x 48;
	$rtmr3 = sha384($rtmr3 . v2_digest($_->{event}, $_->{payload})) for grep { $_->{imr} == 3 } @log;
	# TDX quote v4: 48-byte header, then TDREPORT10 with RTMR3 at body offset 472.
	substr($quote, 48 + 472, 48) = $rtmr3;
}
my $ver = $v2 ? 2 : 1;
my $pod_payload = '{"test":"pod payload"}';
if ($stack eq 'dstack-pod' && !$unbound) {
	$report_data = sha512("app-data:$pod_payload");
	substr($quote, 48 + 520, 64) = $report_data;    # TDREPORT10 REPORTDATA at body offset 520
}

sub tdx_event {
	my ($e) = @_;
	my @kv = (imr => mp_uint($e->{imr}), event_type => mp_uint($e->{type}), digest => mp_bin($e->{digest}),
		  event => mp_str($e->{event}), event_payload => mp_bin($e->{payload}));
	push @kv, version => mp_uint(2) if $v2 && $e->{type} == $RUNTIME;    # skip_serializing_if is_v1
	mp_struct(@kv);
}
sub runtime_event {
	my ($e) = @_;
	mp_struct(event => mp_str($e->{event}), payload => mp_bin($e->{payload}), $ver == 2 ? (version => mp_uint(2)) : ());
}

my $platform_data = mp_struct(quote => mp_vec_u8($quote), event_log => mp_array(map { tdx_event($_) } @log));
my @stack_data = (report_data => mp_vec_u8($report_data), runtime_events => mp_array(map { runtime_event($_) } @runtime),
		  config => mp_str($config));
push @stack_data, report_data_payload => mp_str($pod_payload) if $stack eq 'dstack-pod';
my $out = mp_struct(
	version  => mp_uint($version),
	platform => mp_struct(kind => mp_str($platform), data => $platform_data),
	stack    => mp_struct(kind => mp_str($stack), data => mp_struct(@stack_data)),
);
$out .= "\0" if $trailing;
binmode STDOUT;
print $hex ? unpack('H*', $out) . "\n" : $out;
