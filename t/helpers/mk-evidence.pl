# mk-evidence.pl MEASURE_JSON VM_CONFIG QUOTE_FROM > getquote.json
# A GetQuote response as a CVM of a measured image would give it: the event
# log's boot events are `tdx-measure --json`'s events (digests, types, the
# ACPI events named and carrying "ACPI DATA"), vm_config is the file's text,
# and the quote is the one in QUOTE_FROM (a GetQuote response) with its MRTD
# and RTMR0-2 set to the measured values. The quote's signature no longer
# verifies: this is evidence for tdx-measure's register comparison only
# (tdx-dcap-verify would refuse it). A measured value that is null keeps the
# quote's own.
#
# mk-evidence.pl --info INFO_FROM MEASURE_JSON VM_CONFIG > info.json
# The guest agent's Info of a CVM that booted the measured image, made from a
# real Info (INFO_FROM): in its event log each boot event becomes the
# measured event of the same register, in the template's log order (types
# and digests measured; the ACPI events carry "ACPI DATA"; another event
# keeps the template's payload when its digest is the template's, else has
# none); RTMR3's runtime events stay but for os-image-hash, which names the
# vm_config's os_image_hash (its digest recomputed); tcb_info's MRTD is the
# measured one and RTMR0-3 are the log's replay. os_image_hash (top level,
# tcb_info) and vm_config come from the VM_CONFIG file: the CVM claims that
# image, whichever image MEASURE_JSON measured. mr_aggregated is recomputed
# (SHA-256 of MRTD, RTMR0-3, MRCONFIGID 01 || compose_hash || 00*15 and 96
# zero bytes, as the real Info's is).
#
# mk-evidence.pl --quote INFO QUOTE_FROM > getquote.json
# The GetQuote answer of the CVM whose Info is INFO: the quote in QUOTE_FROM
# (a GetQuote response) with MRTD and RTMR0-3 set to tcb_info's (signature
# broken as above), the log stripped as dstack >= 0.5.6 strips it (runtime
# events without digest, boot events without payload but for "ACPI DATA"),
# Info's vm_config, and the quote's own REPORTDATA.
use strict;
use warnings;
use JSON::PP;
use Digest::SHA qw(sha256_hex sha384 sha384_hex);
sub slurp { my ($p) = @_; open(my $f, '<', $p) or die "open $p: $!"; local $/; my $t = <$f>; close $f; $t }
my $json = JSON::PP->new->canonical;
my $acpi_data = unpack('H*', 'ACPI DATA');

sub getquote {
	my ($measure, $vm, $from) = @_;
	die "usage: mk-evidence.pl MEASURE_JSON VM_CONFIG QUOTE_FROM\n" unless defined $from;
	my $m = decode_json(slurp($measure));
	my $q = decode_json(slurp($from));
	my $vm_text = slurp($vm);
	$vm_text =~ s/\s+\z//;
	my $quote = pack('H*', $q->{quote});
	die "only v4 quotes\n" unless unpack('v', $quote) == 4;
	my %at = (mrtd => 184, rtmr0 => 376, rtmr1 => 424, rtmr2 => 472);
	for my $r (keys %at) {
		substr($quote, $at{$r}, 48) = pack('H*', $m->{$r}) if defined $m->{$r};
	}
	my @log;
	for my $e (@{ $m->{events} }) {
		my $acpi = $e->{name} =~ /^acpi-/;
		push @log, { imr => $e->{imr}, event_type => $e->{event_type}, digest => $e->{digest} // '',
			     event => $acpi ? $e->{name} : '', event_payload => $acpi ? $acpi_data : '' };
	}
	print $json->encode({ quote => unpack('H*', $quote), event_log => $json->encode(\@log),
			      report_data => '00' x 64, vm_config => $vm_text }), "\n";
}

# v1 runtime event digest: SHA-384(LE32 type ":" name ":" payload).
sub runtime_digest {
	my ($e) = @_;
	return sha384_hex(pack('V', $e->{event_type}) . ':' . $e->{event} . ':' . pack('H*', $e->{event_payload}));
}

sub info {
	my ($from, $measure, $vm) = @_;
	die "usage: mk-evidence.pl --info INFO_FROM MEASURE_JSON VM_CONFIG\n" unless defined $vm;
	my $t = decode_json(slurp($from));
	my $tcb = decode_json($t->{tcb_info});
	my $m = decode_json(slurp($measure));
	my $vm_text = slurp($vm);
	$vm_text =~ s/\s+\z//;
	my $hash = decode_json($vm_text)->{os_image_hash} // die "$vm: no os_image_hash\n";
	my %next;
	push @{ $next{ $_->{imr} } }, $_ for @{ $m->{events} };
	my @rtmr = map { "\0" x 48 } 0 .. 3;
	my @log;
	for my $e (@{ $tcb->{event_log} }) {
		my %n = %$e;
		if ($e->{imr} == 3) {
			if ($e->{event} eq 'os-image-hash') {
				$n{event_payload} = $hash;
				$n{digest} = runtime_digest(\%n);
			}
		} else {
			my $me = shift @{ $next{ $e->{imr} } } // die "$measure: fewer RTMR$e->{imr} events than $from\n";
			die "$measure: RTMR$e->{imr} event $me->{name} has no digest\n" unless defined $me->{digest};
			$n{event_type} = $me->{event_type};
			$n{digest} = $me->{digest};
			if ($me->{name} =~ /^acpi-/) {
				$n{event_payload} = $acpi_data;
			} elsif ($me->{digest} ne $e->{digest}) {
				$n{event_payload} = '';
			}
		}
		$rtmr[ $n{imr} ] = sha384($rtmr[ $n{imr} ] . pack('H*', $n{digest}));
		push @log, \%n;
	}
	for my $r (0 .. 2) {
		die "$measure: more RTMR$r events than $from\n" if @{ $next{$r} // [] };
	}
	$tcb->{event_log} = \@log;
	$tcb->{mrtd} = $m->{mrtd};
	$tcb->{"rtmr$_"} = unpack('H*', $rtmr[$_]) for 0 .. 3;
	$tcb->{os_image_hash} = $hash;
	my $agg = sha256_hex(pack('H*', $tcb->{mrtd}) . join('', @rtmr) . pack('H*', '01' . $tcb->{compose_hash} . '00' x 15) .
			     "\0" x 96);
	$tcb->{mr_aggregated} = $t->{mr_aggregated} = $agg;
	$t->{tcb_info} = $json->encode($tcb);
	$t->{os_image_hash} = $hash;
	$t->{vm_config} = $vm_text;
	print $json->encode($t), "\n";
}

sub quote_for {
	my ($from_info, $from) = @_;
	die "usage: mk-evidence.pl --quote INFO QUOTE_FROM\n" unless defined $from;
	my $t = decode_json(slurp($from_info));
	my $tcb = decode_json($t->{tcb_info});
	my $quote = pack('H*', decode_json(slurp($from))->{quote});
	die "only v4 quotes\n" unless unpack('v', $quote) == 4;
	my %at = (mrtd => 184, rtmr0 => 376, rtmr1 => 424, rtmr2 => 472, rtmr3 => 520);
	substr($quote, $at{$_}, 48) = pack('H*', $tcb->{$_}) for keys %at;
	my @log = map {
		my %n = %$_;
		if ($n{imr} == 3) { $n{digest} = '' } elsif ($n{event_payload} ne $acpi_data) { $n{event_payload} = '' }
		\%n
	} @{ $tcb->{event_log} };
	print $json->encode({ quote => unpack('H*', $quote), event_log => $json->encode(\@log),
			      report_data => unpack('H*', substr($quote, 568, 64)), vm_config => $t->{vm_config} }), "\n";
}

if (@ARGV && $ARGV[0] eq '--info') {
	shift @ARGV;
	info(@ARGV);
} elsif (@ARGV && $ARGV[0] eq '--quote') {
	shift @ARGV;
	quote_for(@ARGV);
} else {
	getquote(@ARGV);
}
