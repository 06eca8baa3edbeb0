# mk-evidence.pl MEASURE_JSON VM_CONFIG QUOTE_FROM > getquote.json
# A GetQuote response as a CVM of a measured image would give it: the event
# log's boot events are `tdx-measure --json`'s events (digests, types, the
# ACPI events named and carrying "ACPI DATA"), vm_config is the file's text,
# and the quote is the one in QUOTE_FROM (a GetQuote response) with its MRTD
# and RTMR0-2 set to the measured values. The quote's signature no longer
# verifies: this is evidence for tdx-measure's register comparison only
# (tdx-dcap-verify would refuse it). A measured value that is null keeps the
# quote's own.
use strict;
use warnings;
use JSON::PP;
my ($measure, $vm, $from) = @ARGV;
die "usage: mk-evidence.pl MEASURE_JSON VM_CONFIG QUOTE_FROM\n" unless defined $from;
sub slurp { my ($p) = @_; open(my $f, '<', $p) or die "open $p: $!"; local $/; my $t = <$f>; close $f; $t }
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
		     event => $acpi ? $e->{name} : '', event_payload => $acpi ? unpack('H*', 'ACPI DATA') : '' };
}
my $json = JSON::PP->new->canonical;
print $json->encode({ quote => unpack('H*', $quote), event_log => $json->encode(\@log),
		      report_data => '00' x 64, vm_config => $vm_text }), "\n";
