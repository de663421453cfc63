#!/usr/bin/perl
# Writes a small MaxMind DB for the GeoIP tests with Debian's libmaxmind-db-writer-perl, from a
# JSON list of networks: [{"network": "10.0.0.0/25", "country": "FR", "country_name": "France",
# "city": "Paris", "asn": 64500, "as_org": "..."}, ...]; each field optional, written under the
# GeoLite2 names (country.iso_code, country.names.en, city.names.en,
# autonomous_system_number, autonomous_system_organization).
#   make_mmdb.pl NETWORKS.json OUT.mmdb TYPE
use strict;
use warnings;
use JSON::PP;
use MaxMind::DB::Writer::Tree;

my ($in, $out, $type) = @ARGV;
open my $fh, '<', $in or die "$in: $!";
my $networks = decode_json(do { local $/; <$fh> });
my %types = (country => 'map', iso_code => 'utf8_string', names => 'map', en => 'utf8_string',
             city => 'map', autonomous_system_number => 'uint32',
             autonomous_system_organization => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 24, database_type => $type, languages => ['en'],
  description => { en => 'logpipe test database' }, map_key_type_callback => sub { $types{ $_[0] } },
  remove_reserved_networks => 0);
for my $n (@$networks) {
  my %rec;
  $rec{country}{iso_code} = $n->{country} if defined $n->{country};
  $rec{country}{names}{en} = $n->{country_name} if defined $n->{country_name};
  $rec{city}{names}{en} = $n->{city} if defined $n->{city};
  $rec{autonomous_system_number} = $n->{asn} if defined $n->{asn};
  $rec{autonomous_system_organization} = $n->{as_org} if defined $n->{as_org};
  $tree->insert_network($n->{network}, \%rec);
}
open my $o, '>:raw', $out or die "$out: $!";
$tree->write_tree($o);
close $o;
