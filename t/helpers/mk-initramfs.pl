# mk-initramfs.pl OUT [TEXT [PAD]]: writes a tiny initramfs (a newc cpio
# archive, uncompressed; the caller gzips it) holding /init, a shell script
# that prints TEXT, and with PAD > 0 a file /pad of PAD incompressible bytes
# (for benchmarks at a real initrd's size). Deterministic: zero times and ids.
use strict;
use warnings;
my ($out, $text, $pad) = @ARGV;
die "usage: mk-initramfs.pl OUT [TEXT [PAD]]\n" unless defined $out;
$pad //= 0;
$text //= 'synthetic dstack guest';
my $cpio = '';
my $ino = 1;
sub entry {
	my ($name, $mode, $data) = @_;
	my $h = sprintf('070701' . ('%08X' x 13), $ino++, $mode, 0, 0, 1, 0, length $data, 0, 0, 0, 0,
			length($name) + 1, 0);
	$cpio .= $h . $name . "\0";
	$cpio .= "\0" x ((4 - length($cpio) % 4) % 4);
	$cpio .= $data;
	$cpio .= "\0" x ((4 - length($cpio) % 4) % 4);
}
entry('.', 040755, '');
entry('init', 0100755, "#!/bin/sh\necho '$text'\n");
if ($pad) {
	use Digest::SHA qw(sha512);
	my ($bytes, $n) = ('', 0);
	$bytes .= sha512("pad" . $n++) while length($bytes) < $pad;
	entry('pad', 0100644, substr($bytes, 0, $pad));
}
entry('TRAILER!!!', 0, '');
$cpio .= "\0" x ((512 - length($cpio) % 512) % 512);
open(my $f, '>', $out) or die "open $out: $!";
binmode $f;
print $f $cpio;
close $f or die "close $out: $!";
