# flip-byte.pl FILE OFFSET: XORs the byte at OFFSET with 0x01, in place.
use strict;
use warnings;
my ($path, $offset) = @ARGV;
open(my $f, '+<', $path) or die "open $path: $!";
binmode $f;
seek($f, $offset, 0) or die "seek: $!";
read($f, my $byte, 1) == 1 or die "offset $offset is past the end of $path";
seek($f, $offset, 0) or die "seek: $!";
print $f chr(ord($byte) ^ 1);
close $f or die "close: $!";
