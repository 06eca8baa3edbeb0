# collateral-edit.pl FILE OP KEY [ARGS]: edits a dcap-qvl collateral JSON in place.
#   set KEY VALUE        KEY's value becomes the string VALUE
#   copy KEY FROM        KEY's value becomes FROM's value
#   del KEY              removes KEY
#   sub KEY OLD NEW      replaces the first OLD in KEY's string value with NEW
#   flip KEY N           XORs byte N of the hex-encoded KEY with 0x01
use strict;
use warnings;
use JSON::PP;
my ($path, $op, $key, @args) = @ARGV;
open(my $f, '<', $path) or die "open $path: $!";
my $c = JSON::PP->new->decode(do { local $/; <$f> });
close $f;
if ($op eq 'set') { $c->{$key} = $args[0]; }
elsif ($op eq 'copy') { $c->{$key} = $c->{$args[0]}; }
elsif ($op eq 'del') { delete $c->{$key}; }
elsif ($op eq 'sub') {
	my $at = index($c->{$key}, $args[0]);
	die "not found in $key: $args[0]\n" if $at < 0;
	substr($c->{$key}, $at, length $args[0]) = $args[1];
}
elsif ($op eq 'flip') {
	my $b = pack('H*', $c->{$key});
	die "offset past the end of $key\n" if $args[0] >= length $b;
	substr($b, $args[0], 1) = chr(ord(substr($b, $args[0], 1)) ^ 1);
	$c->{$key} = unpack('H*', $b);
}
else { die "unknown op $op\n"; }
open($f, '>', $path) or die "write $path: $!";
print $f JSON::PP->new->canonical->encode($c);
close $f or die "close: $!";
