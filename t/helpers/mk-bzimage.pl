# mk-bzimage.pl OUT [SEED [TAIL]]: writes a small synthetic x86 bzImage - a
# PE32+ EFI image (two sections, a certificate-table directory entry, no
# signature) with a Linux setup header (boot protocol 2.15, LOADED_HIGH,
# xloadflags 0x7f as Debian's kernels have) - for tests and the synthetic
# image when no Debian kernel is at hand. SEED varies the section bytes;
# TAIL appends that many bytes of trailing data after the sections (to
# exercise the Authenticode padding). It does not boot.
use strict;
use warnings;
my ($out, $seed, $tail) = @ARGV;
die "usage: mk-bzimage.pl OUT [SEED [TAIL]]\n" unless defined $out;
$seed //= 'synthetic';
$tail //= 0;
my $headers = 0x1000;
my @sections = ([ '.text', 0x1000, 0x8000 ], [ '.data', 0x9000, 0x7000 ]);
my $size = 0x10000;
my $img = "\0" x $size;
sub put { my ($off, $bytes) = @_; substr($img, $off, length $bytes) = $bytes; }
put(0, 'MZ');
put(0x3c, pack('V', 0x40));
put(0x40, "PE\0\0");
# COFF header: x86-64, two sections, optional header of 0xf0 bytes.
put(0x44, pack('vvVVVvv', 0x8664, scalar @sections, 0, 0, 0, 0xf0, 0x0206));
my $opt = 0x58;
# PE32+ optional header: magic, linker, sizes, entry, base of code, image base,
# alignments, versions, SizeOfImage, SizeOfHeaders, CheckSum, subsystem (EFI app).
put($opt, pack('vCCVVVVV', 0x20b, 2, 20, 0xf000, 0, 0, 0x1000, 0x1000));
put($opt + 24, pack('Q<VVvvvvvvVVVVvv', 0, 0x1000, 0x200, 0, 0, 0, 0, 0, 0, 0, $size, $headers, 0, 10, 0));
put($opt + 108, pack('V', 6)); # NumberOfRvaAndSizes; the six directories stay empty
my $table = $opt + 0xf0;
for my $i (0 .. $#sections) {
	my ($name, $at, $len) = @{ $sections[$i] };
	put($table + 40 * $i, pack('a8VVVVVVvvV', $name, $len, $at, $len, $at, 0, 0, 0, 0, 0x60000020));
}
# Linux setup header.
put(0x1f1, pack('C', $headers / 512 - 1));
put(0x1fe, pack('v', 0xaa55));
put(0x202, 'HdrS');
put(0x206, pack('v', 0x020f));
put(0x211, pack('C', 0x01));
put(0x22c, pack('V', 0x7fffffff));
put(0x236, pack('v', 0x7f));
# Section bytes: a SHA-256 counter stream, so every seed gives other digests.
use Digest::SHA qw(sha256);
my $stream = '';
my $n = 0;
$stream .= sha256($seed . $n++) while length($stream) < $size - $headers;
put($headers, substr($stream, 0, $size - $headers));
$img .= substr(sha256("tail$seed"), 0, 1) x $tail if $tail;
open(my $f, '>', $out) or die "open $out: $!";
binmode $f;
print $f $img;
close $f or die "close $out: $!";
