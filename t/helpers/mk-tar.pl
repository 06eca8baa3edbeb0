# mk-tar.pl OUT ENTRY...: writes a gzip'd ustar archive, entry by entry, as
# hostile as asked (for tdx-measure's archive tests). ENTRY is
#   NAME=FILE        a regular member with FILE's bytes
#   NAME:TYPE        a header of that type (2 symlink, 3 char device, 5 dir, ...)
#   NAME:0:SIZE      a regular member that declares SIZE bytes and carries none
#                    (sizes of 8 GiB and more in GNU base-256)
use strict;
use warnings;
use IO::Compress::Gzip qw(gzip $GzipError);
my ($out, @entries) = @ARGV;
die "usage: mk-tar.pl OUT ENTRY...\n" unless defined $out;
sub header {
	my ($name, $type, $size) = @_;
	my $sizef = $size >= 8 << 30 ? "\x80" . ("\0" x 3) . pack('Q>', $size) : sprintf('%011o', $size) . "\0";
	my $h = pack('a100a8a8a8a12a12A8a1a100a8a32a32a8a8a155a12', $name, "0000644", "0000000", "0000000", $sizef,
		     sprintf('%011o', 0), '', $type, $type eq '2' ? 'target' : '', "ustar\0" . "00", 'root', 'root',
		     "0000000", "0000000", '', '');
	my $sum = 0;
	$sum += $_ for unpack('C*', substr($h, 0, 148) . (' ' x 8) . substr($h, 156));
	substr($h, 148, 8) = sprintf("%06o\0 ", $sum);
	return $h;
}
my $tar = '';
for my $e (@entries) {
	if ($e =~ /^([^=]+)=(.*)$/) {
		my ($name, $file) = ($1, $2);
		open(my $f, '<', $file) or die "open $file: $!";
		binmode $f;
		local $/;
		my $data = <$f> // '';
		close $f;
		$tar .= header($name, '0', length $data) . $data . ("\0" x ((512 - length($data) % 512) % 512));
	} elsif ($e =~ /^(.+):(.)(?::(\d+))?$/) {
		$tar .= header($1, $2, $3 // 0);
	} else {
		die "mk-tar.pl: bad entry $e\n";
	}
}
$tar .= "\0" x 1024;
gzip(\$tar => $out) or die "gzip: $GzipError\n";
