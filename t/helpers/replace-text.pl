# replace-text.pl FILE OLD NEW: replaces the first occurrence of a literal string, in place.
use strict;
use warnings;
my ($path, $old, $new) = @ARGV;
open(my $f, '<', $path) or die "open $path: $!";
binmode $f;
my $text = do { local $/; <$f> };
close $f;
my $at = index($text, $old);
die "not found in $path: $old\n" if $at < 0;
substr($text, $at, length $old) = $new;
open($f, '>', $path) or die "write $path: $!";
binmode $f;
print $f $text;
close $f or die "close: $!";
