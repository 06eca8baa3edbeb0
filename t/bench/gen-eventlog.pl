# gen-eventlog.pl N: an Info-format event log of N events on stdout - boot events
# with random 48-byte digests in RTMR0..2 and V1 runtime events (digests stripped,
# so the replay recomputes them) in RTMR3, one in two each.
use strict;
use warnings;
my $n = shift // 100000;
srand(42);
sub rhex { join '', map { sprintf '%02x', int(rand(256)) } 1 .. $_[0] }
print '[';
for my $i (0 .. $n - 1) {
	print ',' if $i;
	if ($i % 2) {
		printf '{"imr":3,"event_type":134217729,"digest":"","event":"app-event-%d","event_payload":"%s"}',
			$i, rhex(32);
	} else {
		printf '{"imr":%d,"event_type":%d,"digest":"%s","event":"","event_payload":"%s"}',
			$i % 3, 2147483659, rhex(48), rhex(16);
	}
}
print "]\n";
