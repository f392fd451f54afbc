# error_n.gp: relative test error vs training set size n, log-log; one curve per method
# (median over seeds, bars from the min to the max over seeds).
#   gnuplot -c plots/error_n.gp fig_error_n_X.csv out.png ["title"]
# Input: blocks of "n,median,min,max,n,colour,point,dash" rows, each opening with a header whose
# first field is the series' name (written by bfc sweep). With several targets (a group),
# colour = method, point type and dash = target.
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "training set size n"
set ylabel "relative test error  E(F - G*)^2 / Var G*" noenhanced
set format x "%g"
set xtics nomirror
set format y "%g"
set key outside right top
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
# each block's colour, point type and dash are in its columns 6 to 8
array colour[nblocks]
array point[nblocks]
array dash[nblocks]
do for [i=1:nblocks] {
    stats in_csv index (i - 1) using 6 nooutput
    colour[i] = int(STATS_min)
    stats in_csv index (i - 1) using 7 nooutput
    point[i] = int(STATS_min)
    stats in_csv index (i - 1) using 8 nooutput
    dash[i] = int(STATS_min)
}
plot for [i=1:nblocks] in_csv index (i - 1) using 1:2:3:4:xtic(5) with yerrorlines \
     lc rgb series_color(colour[i]) pt series_point(point[i]) dt 1 + dash[i] % 5 \
     title columnheader(1)
